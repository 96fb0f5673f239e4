/** A configuration problem, located by its path in the document (e.g. providers.vllm.baseUrl). */
export interface ConfigProblem {
  path: readonly PropertyKey[];
  message: string;
}

export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(source: string, problems: readonly ConfigProblem[]) {
    super(`invalid configuration in ${source}:\n${problems.map(formatProblem).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function formatProblem(problem: ConfigProblem): string {
  const where = problem.path.length === 0 ? '(root)' : problem.path.map(String).join('.');
  return `  - ${where}: ${problem.message}`;
}
