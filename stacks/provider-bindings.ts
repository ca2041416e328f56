// A cloud's provider bindings, imported on first use (deep paths: a provider package's root loads thousands of
// modules). Loading them lazily lets the action prune the other clouds' provider packages from its install; the
// stack, which cdktf builds synchronously, reads them once loaded.

export interface LazyBindings<T> {
  /** Imports the bindings; awaited before the stack is built. */
  load(): Promise<void>;
  /** The loaded bindings; an error naming the cloud when load() was not awaited first. */
  get(): T;
}

export function lazyBindings<T>(cloud: string, importBindings: () => Promise<T>): LazyBindings<T> {
  let loaded: T | undefined;
  return {
    async load() {
      loaded ??= await importBindings();
    },
    get() {
      if (loaded === undefined)
        throw new Error(`the ${cloud} provider bindings are not loaded: await the cloud's terraform.load() first`);
      return loaded;
    },
  };
}
