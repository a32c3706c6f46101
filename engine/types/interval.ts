/** INTERVAL as PostgreSQL stores it: months, days and microseconds kept apart. */
export class Interval {
  constructor(
    readonly months: number,
    readonly days: number,
    readonly micros: number,
  ) {}
}
