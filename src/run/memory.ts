import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Keeps a long-running process (the agent) flat in memory. Each refresh cycle leaves a little
 * garbage (HTTP, JSON, file I/O); V8 lets its heap grow well past what is live before collecting,
 * and only shrinks it when its memory reducer sees an idle process — which a busy agent serving
 * many profiles, or refreshing 60 s tokens, may never look like. So after a refresh, once the heap
 * has grown `slackBytes` past what was live after the last full collection, collect (a few ms on a
 * heap of a few MB, at most once per refresh). Measured by bench/agent-rss.mjs.
 */
export interface MemoryKeeper {
  afterRefresh(): void;
  readonly collections: number;
}

export function memoryKeeper(slackBytes = 8 * 1024 * 1024): MemoryKeeper {
  let gc: (() => void) | undefined;
  try {
    // The documented way to reach gc() after start-up (node:v8 setFlagsFromString).
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  } catch {
    gc = undefined;
  }
  let live = getHeapStatistics().used_heap_size;
  let collections = 0;
  return {
    afterRefresh() {
      if (!gc) return;
      if (getHeapStatistics().total_heap_size - live < slackBytes) return;
      gc();
      collections++;
      live = getHeapStatistics().used_heap_size;
    },
    get collections() {
      return collections;
    },
  };
}
