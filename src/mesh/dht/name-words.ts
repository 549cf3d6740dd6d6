// The words a file's name is found by: what `share` announces and what `search` asks for.
// Lower-case letters and digits (any script), split on everything else; a word must be 2 to 32 long
// (one letter matches everything, and a longer run is a hash or garbage, not a word people type).

/** Words announced per name: every one is a DHT lookup and an announcement to 8 nodes. */
export const MAX_WORDS_PER_NAME = 8
const MIN_WORD = 2
const MAX_WORD = 32

/** The distinct searchable words of `text`, in order, at most `max`. */
export function wordsOf(text: string, max = MAX_WORDS_PER_NAME): string[] {
  const words: string[] = []
  for (const w of text.normalize('NFKC').toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
    if (w.length < MIN_WORD || w.length > MAX_WORD || words.includes(w)) continue
    words.push(w)
    if (words.length >= max) break
  }
  return words
}

/** Whether `name` contains every word of the query (a search's filter over one word's answers). */
export function nameMatches(name: string, query: string[]): boolean {
  const have = wordsOf(name, Infinity)
  return query.every((q) => have.includes(q))
}
