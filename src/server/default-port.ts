/** The port `spool serve` uses unless told otherwise. Its own module: the CLI's client commands read it without loading the server. */
export const defaultPort = 7460;
