/** `lifeguard demo`: arrives with the adapters (see the demo issue). */
export async function runDemoCommand(_args: string[]): Promise<number> {
  process.stderr.write("lifeguard demo: not available in this version\n");
  return 1;
}
