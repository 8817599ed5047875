// Page-aligned memory for rings and I/O buffers shared with backends.
// Allocated from the wasm heap and never freed: devices keep their pages
// (and the grants on them) for their whole life.
const PAGE: usize = 4096;

export function allocPages(count: i32): usize {
  const raw = heap.alloc(<usize>count * PAGE + PAGE - 1);
  const base = (raw + PAGE - 1) & ~(PAGE - 1);
  memory.fill(base, 0, <usize>count * PAGE);
  return base;
}

export const PAGE_SIZE: usize = PAGE;
