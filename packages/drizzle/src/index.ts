export type { LifeguardDatabase, LifeguardDrizzleConfig, LifeguardPoolOptions } from "./driver.js";
export { drizzle } from "./driver.js";
