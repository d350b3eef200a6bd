/**
 * The services magics use, registered at start-up as lazy factories (nothing starts until a magic asks).
 * Each family registers its own here.
 */
import type { ServiceRegistry } from "./evaluation/services";

export function registerServices(_services: ServiceRegistry): void {}
