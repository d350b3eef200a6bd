/**
 * Arquero columns that hold probe data without a JavaScript object per event: a dictionary column
 * (indexes into a few distinct values), a term column (one buffer of external-format terms; a row's Term is
 * made only when read), and a constant column. Arquero needs only `length`, `at` and iteration.
 */
import { Term } from "../beam/term";
import type { Syntax } from "../beam/termFormat";

abstract class LazyColumn<T> {
  abstract readonly length: number;
  abstract at(row: number): T;
  *[Symbol.iterator](): Iterator<T> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }
  toArray(): T[] {
    return Array.from(this);
  }
}

export class DictColumn<T = unknown> extends LazyColumn<T> {
  constructor(
    readonly values: readonly T[],
    readonly indexes: Uint8Array | Uint16Array | Uint32Array,
  ) {
    super();
  }
  get length(): number {
    return this.indexes.length;
  }
  at(row: number): T {
    return this.values[this.indexes[row]];
  }
}

export class TermColumn extends LazyColumn<Term | null> {
  constructor(
    /** length + 1 offsets into `data`; an empty slice is null. */
    readonly offsets: Uint32Array,
    readonly data: Uint8Array,
    readonly syntax: Syntax,
  ) {
    super();
  }
  get length(): number {
    return this.offsets.length - 1;
  }
  at(row: number): Term | null {
    const start = this.offsets[row];
    const end = this.offsets[row + 1];
    return end > start ? new Term(this.data.subarray(start, end), this.syntax) : null;
  }
}

export class ConstColumn<T> extends LazyColumn<T> {
  constructor(
    readonly value: T,
    readonly length: number,
  ) {
    super();
  }
  at(): T {
    return this.value;
  }
}
