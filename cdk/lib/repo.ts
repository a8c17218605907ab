/**
 * Where the rest of the repository is, and what its `migrations/` say the
 * table looks like: the CDK app builds the table from the same files that
 * `atrium migrate` applies, so the two cannot drift apart.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository root: the nearest directory above this file with a Cargo.toml. */
export function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'Cargo.toml'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cdk/ is not inside the atrium repository');
    dir = parent;
  }
  return dir;
}

export interface IndexDefinition {
  name: string;
  partition_key: string;
  sort_key?: string;
  projection: 'ALL' | 'KEYS_ONLY';
}

export interface TableDefinition {
  billing_mode: 'PAY_PER_REQUEST';
  attributes: Record<string, 'S' | 'N' | 'B'>;
  partition_key: string;
  sort_key?: string;
  global_secondary_indexes: IndexDefinition[];
  ttl_attribute?: string;
  stream_view_type?: 'NEW_IMAGE' | 'OLD_IMAGE' | 'NEW_AND_OLD_IMAGES' | 'KEYS_ONLY';
}

/** The table as the newest migration file (`NNNN-name.json`) defines it. */
export function latestTable(dir = path.join(repoRoot(), 'migrations')): TableDefinition {
  const files = fs.readdirSync(dir).filter((name) => /^\d{4}-.*\.json$/.test(name)).sort();
  const newest = files.at(-1);
  if (!newest) throw new Error(`no migration files in ${dir}`);
  return JSON.parse(fs.readFileSync(path.join(dir, newest), 'utf8')).table as TableDefinition;
}
