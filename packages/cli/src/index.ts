export type { Advice, AdviseInput } from "./commands/advise.js";
export { advise } from "./commands/advise.js";
export type { DoctorReport } from "./commands/doctor.js";
export { doctor, formatDoctor } from "./commands/doctor.js";
