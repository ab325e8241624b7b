/** The embeddable call button's loader: placeholder until it lands. */
export {};
