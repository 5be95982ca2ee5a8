/**
 * Loading a ready-made provider's cloud SDK: an optional peer dependency, imported only when the
 * provider is first used, so `@lifeguard/pg` and the provider's module load without it.
 */

/** The provider's SDK is not installed. */
export class ProviderSdkMissingError extends Error {
  override readonly name = "ProviderSdkMissingError";
  readonly code = "LIFEGUARD_PROVIDER_SDK_MISSING" as const;
  /** The package to install. */
  readonly packageName: string;
  constructor(provider: string, packageName: string, cause: unknown) {
    super(
      `${provider}() needs the package "${packageName}", which is not installed: npm install ${packageName} (it is an optional peer dependency of @lifeguard/pg).`,
      { cause },
    );
    this.packageName = packageName;
  }
}

/** `import(name)`, with a missing package reported as {@link ProviderSdkMissingError}. */
export async function importSdk<T>(
  provider: string,
  packageName: string,
  load: () => Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (
      (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") &&
      String((error as Error).message).includes(packageName)
    ) {
      throw new ProviderSdkMissingError(provider, packageName, error);
    }
    throw error;
  }
}
