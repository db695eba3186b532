import type { Runner } from "./Soak.js"

export const run: Runner = () => Promise.reject(new Error("not yet"))
