/** Exact NUMERIC values: an unscaled bigint and a decimal scale (value = unscaled / 10^scale). */
export class Decimal {
  constructor(
    readonly unscaled: bigint,
    readonly scale: number,
  ) {}
}
