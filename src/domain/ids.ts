// The one home of identifiers and secrets: Neon-shaped ids, API key tokens and their hashes.
import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import zlib from 'node:zlib';

const ADJECTIVES = [
  'autumn',
  'hidden',
  'bitter',
  'misty',
  'silent',
  'empty',
  'dry',
  'dark',
  'summer',
  'icy',
  'delicate',
  'quiet',
  'white',
  'cool',
  'spring',
  'winter',
  'patient',
  'twilight',
  'dawn',
  'crimson',
  'wispy',
  'weathered',
  'blue',
  'billowing',
  'broken',
  'cold',
  'damp',
  'falling',
  'frosty',
  'green',
  'long',
  'late',
  'lingering',
  'bold',
  'little',
  'morning',
  'muddy',
  'old',
  'red',
  'rough',
  'still',
  'small',
  'sparkling',
  'shy',
  'wandering',
  'withered',
  'wild',
  'black',
  'young',
  'holy',
  'solitary',
  'fragrant',
  'aged',
  'snowy',
  'proud',
  'floral',
  'restless',
  'divine',
  'polished',
  'ancient',
  'purple',
  'lively',
  'nameless',
  'lucky',
  'odd',
  'tiny',
  'round',
  'calm',
  'gentle',
  'brave',
  'noisy',
  'steep',
  'sweet',
  'shiny',
  'soft',
  'super',
  'raspy',
  'royal',
  'sharp',
  'fancy',
  'floral',
  'jolly',
  'plain',
  'quiet',
  'rapid',
  'silver',
  'golden',
  'orange',
  'yellow',
  'hollow',
  'curly',
  'wispy',
  'lucky',
  'cool',
];
const NOUNS = [
  'waterfall',
  'river',
  'breeze',
  'moon',
  'rain',
  'wind',
  'sea',
  'morning',
  'snow',
  'lake',
  'sunset',
  'pine',
  'shadow',
  'leaf',
  'dawn',
  'glitter',
  'forest',
  'hill',
  'cloud',
  'meadow',
  'sun',
  'glade',
  'bird',
  'brook',
  'butterfly',
  'bush',
  'dew',
  'dust',
  'field',
  'fire',
  'flower',
  'firefly',
  'feather',
  'grass',
  'haze',
  'mountain',
  'night',
  'pond',
  'darkness',
  'snowflake',
  'silence',
  'sound',
  'sky',
  'shape',
  'surf',
  'thunder',
  'violet',
  'water',
  'wildflower',
  'wave',
  'resonance',
  'wood',
  'dream',
  'cherry',
  'tree',
  'fog',
  'frost',
  'voice',
  'paper',
  'frog',
  'smoke',
  'star',
  'bread',
  'band',
  'bar',
  'base',
  'block',
  'boat',
  'term',
  'credit',
  'art',
  'card',
  'king',
  'math',
  'mode',
  'poetry',
  'queen',
  'salad',
  'scene',
  'truth',
  'unit',
  'heart',
  'cell',
  'fog',
  'tooth',
  'union',
  'limit',
  'haze',
  'sea',
];

function pick(list: readonly string[]): string {
  return list[randomInt(list.length)] ?? 'plain';
}
function digits(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(randomInt(10));
  return s;
}
function base36(n: number): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[randomInt(36)];
  return s;
}

/** `org-morning-bread-81040908` */
export const newOrgId = (): string => `org-${pick(ADJECTIVES)}-${pick(NOUNS)}-${digits(8)}`;
/** `winter-frost-26518790` */
export const newProjectId = (): string => `${pick(ADJECTIVES)}-${pick(NOUNS)}-${digits(8)}`;
/** `br-raspy-sound-a54diuwm` */
export const newBranchId = (): string => `br-${pick(ADJECTIVES)}-${pick(NOUNS)}-${base36(8)}`;
/** `ep-cool-darkness-a1b2c3d4` */
export const newEndpointId = (): string => `ep-${pick(ADJECTIVES)}-${pick(NOUNS)}-${base36(8)}`;
export const newUuid = (): string => randomUUID();
// ---------------------------------------------------------------------------
// API key tokens: `napi_` + 64 base62 characters; the last 6 are a base62 CRC-32 of everything
// before them, so leak scanners (and we) can reject a forged or mistyped token offline.
// ~345 bits of randomness; stored only as SHA-256.

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const TOKEN_PREFIX = 'napi_';
const TOKEN_BODY = 64;
const CHECKSUM_LEN = 6;
export const TOKEN_PATTERN = /^napi_[A-Za-z0-9]{64}$/;

function randomBase62(n: number): string {
  let out = '';
  while (out.length < n) {
    for (const byte of randomBytes(n * 2)) {
      // 248 = 4 * 62: rejection sampling keeps every character equally likely.
      if (byte < 248 && out.length < n) out += BASE62[byte % 62];
    }
  }
  return out;
}

/** CRC-32 (zlib's) of the text's UTF-8 bytes; tokens are ASCII. */
export function crc32(s: string): number {
  return zlib.crc32(s);
}

function checksum(s: string): string {
  let n = crc32(s);
  let out = '';
  for (let i = 0; i < CHECKSUM_LEN; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

export function newApiKeyToken(): string {
  const head = TOKEN_PREFIX + randomBase62(TOKEN_BODY - CHECKSUM_LEN);
  return head + checksum(head);
}

/** Shape and checksum only: no database needed. */
export function isWellFormedToken(token: string): boolean {
  if (token.length !== TOKEN_PREFIX.length + TOKEN_BODY || !TOKEN_PATTERN.test(token)) return false;
  const head = token.slice(0, -CHECKSUM_LEN);
  return checksum(head) === token.slice(-CHECKSUM_LEN);
}

/** Masks anything token-like, for text that echoes what a client sent (log lines, 404/405 messages). */
export function redactTokens(text: string): string {
  return text.replace(/napi_[A-Za-z0-9]*/g, 'napi_[redacted]');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
