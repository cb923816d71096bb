import { clusterSetup } from './hooks.mjs';

export default clusterSetup;
