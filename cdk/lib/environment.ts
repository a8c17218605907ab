/**
 * The service's configuration variables, as the binary reads them: the
 * names come from `src/config/environment.json`, which a Rust test keeps
 * equal to what `config` actually reads. Every environment the CDK app
 * gives the binary goes through `serviceEnvironment`, so a variable renamed
 * on one side and not the other fails `cdk synth` instead of being ignored
 * in production.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from './repo';

/** Every variable the binary reads, with what it means. */
export function knownVariables(
  file = path.join(repoRoot(), 'src', 'config', 'environment.json'),
): Record<string, string> {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** `vars`, once every name in it is one the binary reads. */
export function serviceEnvironment(vars: Record<string, string>): Record<string, string> {
  const known = knownVariables();
  const unknown = Object.keys(vars).filter((name) => !(name in known));
  if (unknown.length > 0) {
    throw new Error(`the binary reads no variable named ${unknown.join(', ')} (see src/config/environment.json)`);
  }
  return vars;
}
