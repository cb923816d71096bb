import { teardown } from './hooks.mjs';

export default teardown;
