/**
 * The steps of one end-to-end story in one code-server session: each runs only if those before it
 * passed (they build on the session's state), and a failed one leaves a screenshot named for it.
 */
import { it } from 'node:test';
import type { CodeServerSession } from './harness';

export interface Story {
  step(this: void, name: string, fn: () => Promise<void>): void;
  /**
   * Stops the session; if a step failed, keeps its files (and `kept`, named in the log) and prints
   * the end of the extension host's log. Says whether one failed.
   */
  end(this: void, kept: string): Promise<boolean>;
}

export function story(prefix: string, timeout: number, session: () => CodeServerSession | undefined): Story {
  let broken: string | undefined;
  return {
    step(name, fn) {
      it(name, { timeout }, async (t) => {
        if (broken !== undefined) return t.skip(`"${broken}" failed`);
        broken = name;
        try {
          await fn();
        } catch (err) {
          await session()
            ?.screenshot(`${prefix}-failed-${name.slice(0, 1)}`)
            .catch(() => undefined);
          throw err;
        }
        broken = undefined;
      });
    },
    async end(kept) {
      const failed = broken !== undefined;
      const vscode = session();
      if (!vscode) return failed;
      if (failed)
        console.log(
          `e2e ${prefix}: kept ${vscode.tempDir} and ${kept}\n--- extension host log:\n${vscode.extensionHostLog().split('\n').slice(-30).join('\n')}`,
        );
      await vscode.stop({ keepTemp: failed });
      return failed;
    },
  };
}
