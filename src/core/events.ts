// Progress events: the executors emit these; one renderer (src/ui/progress.ts) turns them into spinners, colours
// and plain lines. Nothing in the logic prints.
export type ProgressEvent =
  | { type: 'info'; tag: string; message: string }
  | { type: 'warn'; tag: string; message: string }
  | { type: 'step-start'; tag: string; index: number; total: number; description: string }
  | { type: 'step-done'; tag: string; index: number; total: number; description: string; skipped?: string }
  | { type: 'step-failed'; tag: string; description: string; error: string }
  | { type: 'wait-start'; tag: string; what: string; limitMs: number }
  | { type: 'wait-tick'; tag: string; what: string; elapsedMs: number; limitMs: number; seen: string }
  | { type: 'wait-end'; tag: string; what: string; elapsedMs: number; ok: boolean; seen: string };

export type Emit = (e: ProgressEvent) => void;
