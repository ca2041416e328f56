#!/usr/bin/env bash
# Cuts the action's production install down to what one cloud needs, before it is cached: the other clouds'
# provider bindings, and the jsii metadata (.jsii, for other languages' bindings) that Node never reads. The
# providers are imported lazily (stacks/aws.ts, stacks/gcp.ts), so a pruned one is simply never loaded.
set -euo pipefail
cloud="${1:?usage: prune-install.sh CLOUD}"
modules="${2:-node_modules}"

declare -A provider_of=([aws]=provider-aws [gcp]=provider-google)
for provider in provider-aws provider-google; do
  if [[ "${provider_of[$cloud]:-}" != "$provider" ]]; then
    rm -rf -- "${modules:?}/@cdktf/$provider"
  fi
done
rm -f -- "${modules:?}"/@cdktf/provider-*/.jsii "${modules:?}"/@cdktf/provider-*/.jsii.gz
echo "Pruned the install for cloud '$cloud': $(du -sh "$modules" | cut -f1) left"
