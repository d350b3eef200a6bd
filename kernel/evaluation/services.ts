/** Named services for magics (the BEAM client, the probe store…): created on first use, once. */
import type { Services } from "./types";

export class ServiceRegistry implements Services {
  private readonly factories = new Map<string, () => unknown>();
  private readonly instances = new Map<string, unknown>();

  register(name: string, factory: () => unknown): void {
    this.factories.set(name, factory);
    this.instances.delete(name);
  }

  get<T>(name: string): T {
    if (!this.instances.has(name)) {
      const factory = this.factories.get(name);
      if (!factory) throw new Error(`no service named "${name}" is registered`);
      this.instances.set(name, factory());
    }
    return this.instances.get(name) as T;
  }
}
