import { e2eSetup } from './hooks.mjs';

export default e2eSetup;
