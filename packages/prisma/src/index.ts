export type { PrismaLifeguardDriverAdapter, PrismaPgOptions } from "./prisma-lifeguard.js";
export { PrismaLifeguard } from "./prisma-lifeguard.js";
