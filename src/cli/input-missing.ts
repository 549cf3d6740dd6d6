// A file the user named that is not there: said before anything is made for it.
import { stat } from 'node:fs/promises'
import { CodedError } from '../util/coded-error.ts'

export class InputMissing extends CodedError<'ERR_NO_INPUT'> {}

/** Throws InputMissing unless `path` exists. */
export async function mustExist(path: string): Promise<void> {
  if (!(await stat(path).catch(() => null))) throw new InputMissing('ERR_NO_INPUT', `${path}: no such file`)
}
