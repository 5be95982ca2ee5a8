// The programmatic API of the CLI arrives with its issue; until then it exports nothing.
export {};
