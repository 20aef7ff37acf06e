// "Did you mean ann@gmail.com?": the typed domain against common mail domains, by edit distance.
export const COMMON_DOMAINS = [
  "gmail.com", "googlemail.com", "hotmail.com", "hotmail.fr", "hotmail.co.uk", "hotmail.es",
  "outlook.com", "outlook.fr", "outlook.es", "live.com", "live.fr", "msn.com",
  "yahoo.com", "yahoo.fr", "yahoo.es", "yahoo.co.uk", "ymail.com", "aol.com",
  "icloud.com", "me.com", "mac.com", "orange.fr", "wanadoo.fr", "free.fr", "sfr.fr",
  "laposte.net", "bbox.fr", "neuf.fr", "gmx.com", "gmx.fr", "gmx.de", "web.de",
  "protonmail.com", "proton.me", "telefonica.net", "comcast.net", "verizon.net", "mail.com",
  "yahoo.ca", "yahoo.de", "hotmail.ca", "hotmail.de", "hotmail.it", "outlook.de", "live.co.uk",
  "btinternet.com", "sky.com", "att.net",
];

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
// neighbouring letters (gmial → gmail is one edit).
export function distance(a, b) {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d = Array.from({ length: rows }, (_, i) => {
    const row = new Array(cols).fill(0);
    row[0] = i;
    return row;
  });
  for (let j = 0; j < cols; j += 1) d[0][j] = j;
  for (let i = 1; i < rows; i += 1) {
    for (let j = 1; j < cols; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

// The corrected address, or "" when the domain is known, too far from any, or not typed yet.
export function suggestEmail(email) {
  const value = String(email || "").trim();
  const at = value.lastIndexOf("@");
  if (at < 1) return "";
  const local = value.slice(0, at);
  const domain = value.slice(at + 1).toLowerCase();
  if (domain.length < 4 || !domain.includes(".") || COMMON_DOMAINS.includes(domain)) return "";
  let best = "";
  let bestDistance = Infinity;
  for (const candidate of COMMON_DOMAINS) {
    const d = distance(domain, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  // One slip in a short domain, two in a longer one; beyond that it is probably a real domain.
  const allowed = best.length <= 6 ? 1 : 2;
  return bestDistance > 0 && bestDistance <= allowed ? `${local}@${best}` : "";
}
