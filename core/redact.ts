/**
 * Secret redaction for everything that leaves a step or a provider: step logs, Slack messages,
 * failure messages, CLI output. Values of variables that hold keys or tokens are replaced by
 * `[redacted:NAME]`; well-known token shapes, private key blocks, JWTs and the password of a URL
 * are caught even when no variable holds them.
 */

// KEY_DATA: a private key given as text (TEMPORAL_TLS_CLIENT_KEY_DATA). PAT and AUTH: personal
// access tokens and npm's `_auth`. SECRET_KEY_BASE: Rails' signing secret.
const SECRET_NAME =
  /(KEY|KEY_DATA|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|PRIVATE|(^|_)PAT|(^|_)AUTH|SECRET_KEY_BASE)$/i;
/** Variables naming a place (`DATABASE_URL`, `SENTRY_DSN`): secret when they carry credentials. */
const LOCATION_NAME = /(_URL|_URI|_DSN)$/i;
/** Shorter values are too likely to be ordinary words ("test", "true") to replace blindly. */
const MIN_SECRET_LENGTH = 6;

const PRIVATE_KEY_BEGIN = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----/;
const PRIVATE_KEY_END = /-----END ([A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----/;

const TOKEN_SHAPES: [RegExp, string][] = [
  // A whole private key, or what is left of one when the text was cut.
  [
    /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----[\s\S]*?(-----END ([A-Z0-9 ]*)PRIVATE KEY( BLOCK)?-----|$)/g,
    '[redacted:private-key]',
  ],
  [/\bxox[abposre]-[A-Za-z0-9-]{10,}/g, '[redacted:slack-token]'],
  [/\bxapp-[A-Za-z0-9-]{10,}/g, '[redacted:slack-app-token]'],
  [/https:\/\/hooks\.slack\.com\/(services|workflows|triggers)\/[A-Za-z0-9/_-]+/g, '[redacted:slack-webhook]'],
  [/\bsk-ant-[A-Za-z0-9_-]{16,}/g, '[redacted:anthropic-key]'],
  [/\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}/g, '[redacted:openai-key]'],
  [/\bgithub_pat_[A-Za-z0-9_]{20,}/g, '[redacted:github-token]'],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}/g, '[redacted:github-token]'],
  [/\bglpat-[A-Za-z0-9_-]{20,}/g, '[redacted:gitlab-token]'],
  [/\bnpm_[A-Za-z0-9]{30,}/g, '[redacted:npm-token]'],
  [/\b(AKIA|ASIA)[A-Z0-9]{16}\b/g, '[redacted:aws-key-id]'],
  [/\bAIza[0-9A-Za-z_-]{35}\b/g, '[redacted:google-api-key]'],
  [/\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, '[redacted:jwt]'],
  // The password of a URL (`https://user:pass@host`), or a user part that is itself a token.
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s/@]+@/gi, '$1:[redacted:url-password]@'],
  [/\b([a-z][a-z0-9+.-]*:\/\/)[A-Za-z0-9_-]{20,}@/gi, '$1[redacted:url-token]@'],
];

export type Redactor = (text: string) => string;

/** The password of a URL-like value (`scheme://user:password@host…`), if it has one. */
function urlPassword(value: string): string | undefined {
  return /^[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:([^\s/@]+)@/i.exec(value)?.[1];
}

/** The values of `env` that are secrets, with the label each is replaced by. */
function secretsOf(env: NodeJS.ProcessEnv, extraNames: string[]): [string, string][] {
  const secrets: [string, string][] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!value || value.length < MIN_SECRET_LENGTH) continue;
    if (SECRET_NAME.test(name) || extraNames.includes(name)) {
      secrets.push([value, `[redacted:${name}]`]);
      continue;
    }
    const password = LOCATION_NAME.test(name) ? urlPassword(value) : undefined;
    if (password) {
      secrets.push([value, `[redacted:${name}]`]);
      if (password.length >= MIN_SECRET_LENGTH) secrets.push([password, `[redacted:${name}]`]);
    }
  }
  // Longest first, so a secret that contains another is replaced whole.
  return secrets.sort((a, b) => b[0].length - a[0].length);
}

export function createRedactor(env: NodeJS.ProcessEnv = process.env, extraNames: string[] = []): Redactor {
  const secrets = secretsOf(env, extraNames);
  return (text: string) => {
    let out = text;
    for (const [value, label] of secrets) {
      if (out.includes(value)) out = out.split(value).join(label);
    }
    for (const [shape, label] of TOKEN_SHAPES) out = out.replace(shape, label);
    return out;
  };
}

/**
 * A redactor for text that arrives line by line (a step's output): a private key spans lines, so
 * from its BEGIN line to its END line every line is replaced, whatever else it holds.
 */
export function createLineRedactor(redact: Redactor): Redactor {
  let inKey = false;
  return (line: string) => {
    if (inKey) {
      const end = PRIVATE_KEY_END.exec(line);
      if (!end) return '[redacted:private-key]';
      inKey = false;
      return `[redacted:private-key]${redact(line.slice(end.index + end[0].length))}`;
    }
    if (PRIVATE_KEY_BEGIN.test(line) && !PRIVATE_KEY_END.test(line)) {
      inKey = true;
      return redact(line.replace(/-----BEGIN [\s\S]*$/, '[redacted:private-key]'));
    }
    return redact(line);
  };
}

let processRedactor: Redactor | undefined;
/** Redactor over this process's environment (built once: the environment does not change). */
export function redact(text: string): string {
  processRedactor ??= createRedactor();
  return processRedactor(text);
}
