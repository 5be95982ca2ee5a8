export type { Advice, AdviseInput } from "./commands/advise.js";
export { advise } from "./commands/advise.js";
export type {
  DemoOptions,
  DemoProgress,
  DemoResult,
  PhaseResult,
  PoolFigures,
  ScenarioName,
} from "./commands/demo/run.js";
export { runDemo } from "./commands/demo/run.js";
export type { DoctorReport } from "./commands/doctor.js";
export { doctor, formatDoctor } from "./commands/doctor.js";
export type { DoctorHost, DoctorHosts } from "./commands/doctor-hosts.js";
