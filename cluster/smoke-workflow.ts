/** The one workflow the cluster smoke and test run (bundled by the SDK from this file). */
export const clusterSmoke = async (name: string): Promise<string> => `hello ${name}`;
