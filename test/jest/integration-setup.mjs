import { integrationSetup } from './hooks.mjs';

export default integrationSetup;
