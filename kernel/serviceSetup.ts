/**
 * The services magics use, registered at start-up as lazy factories (nothing starts until a magic asks).
 */
import type { ServiceRegistry } from "./evaluation/services";
import { BeamSession } from "./beam/session";

export function registerServices(services: ServiceRegistry): void {
  services.register("beam", () => new BeamSession());
}
