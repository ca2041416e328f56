// The one hook that adds the test kit's `local` machine kind (./local-cloud/local.ts: the boot script as a local
// process) to the clouds the action accepts, so that action.yml can be driven end to end without a cloud. The
// action itself refuses `cloud: local` like any unknown cloud; this module, preloaded into the action's processes,
// registers it:
//
//   NODE_OPTIONS="--import=/path/to/the/action/test/kit/register-local.mjs"
//
// Plain JavaScript, so that Node can preload it before any TypeScript loader exists: it loads tsx's ESM loader
// first (the same module the action's main step imports, `node --import tsx/esm`, so the loader is registered once),
// then the kind. The test kit's world (./local-github/world.ts), `npm run demo` and `npm run bench` set it;
// CONTRIBUTING.md documents it for outside harnesses.
import "tsx/esm";

const { registerCloud } = await import("../../stacks/clouds.ts");
const { localCloud } = await import("./local-cloud/local.ts");
registerCloud(localCloud);
