/**
 * jest's globalSetup/globalTeardown run in jest's own process, outside the test transform, so they
 * load the TypeScript provisioning code through tsx — the same way `npm start` runs the product.
 */
import { register } from 'tsx/esm/api';

register();
const provision = await import('./provision.ts');

/** Integration layer: one real Temporal dev server for the whole run. */
export const integrationSetup = () => provision.provisionTemporal();
/** e2e layer: a Docker engine too. */
export const e2eSetup = async () => {
  await provision.provisionDocker();
  await provision.provisionTemporal();
};
/** `npm run test:cluster`: a Docker engine and a production-shaped cluster instead of the dev server. */
export const clusterSetup = async () => {
  await provision.provisionDocker();
  await provision.provisionCluster();
};
export const teardown = () => provision.teardown();
