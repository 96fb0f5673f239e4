/** Reads one sample from a gateway's /metrics text: the value of `name{labels…}` (labels matched as a subset). */
export async function metricValue(origin: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${origin}/metrics`)).text();
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.slice(name.length).match(/^\{(.*)\}/)?.[1] ?? '';
    const parsed = Object.fromEntries([...labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => parsed[k] === v)) {
      total += Number(line.split(' ').at(-1));
      found = true;
    }
  }
  if (!found) throw new Error(`metric ${name} ${JSON.stringify(labels)} not found`);
  return total;
}
