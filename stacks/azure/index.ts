// Microsoft Azure as the `cloud` input's `azure`: one file per concern. inputs.ts reads the inputs, catalog.ts prices
// the sizes, stack.ts is what Terraform creates (the security review reads it with end-command.ts, deallocate.sh,
// auto-shutdown.ts and ssh-key.ts), cli.ts finds and deletes VMs without state. Azure has no state store here: the
// encrypted state travels as the workflow artifact.
import { defineCloud } from "../cloud.ts";
import { azureCatalog } from "./catalog.ts";
import { azureCli } from "./cli.ts";
import type { AzureConfig } from "./config.ts";
import { azureInputs } from "./inputs.ts";
import { azureTerraform } from "./stack.ts";

export const azureCloud = defineCloud<AzureConfig>({
  name: "azure",
  // The azurerm provider reads ARM_*; the az CLI (logged in by azure/login, its tokens under HOME) reads AZURE_*.
  environment: [/^(ARM|AZURE)_[A-Z0-9_]+$/],
  inputs: azureInputs,
  catalog: azureCatalog,
  terraform: azureTerraform,
  cli: azureCli,
});
