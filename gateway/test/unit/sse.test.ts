import { describe, expect, it } from 'vitest';
import { SseParser } from '../../src/providers/sse.js';

describe('SseParser', () => {
  it('parses events split at every possible byte boundary', () => {
    const stream = 'event: message_start\ndata: {"a":1}\n\n: comment\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n';
    for (let cut = 1; cut < stream.length; cut++) {
      const parser = new SseParser();
      const events = [...parser.push(stream.slice(0, cut)), ...parser.push(stream.slice(cut)), ...parser.end()];
      expect(events).toEqual([
        { event: 'message_start', data: '{"a":1}' },
        { event: undefined, data: 'line1\nline2' },
        { event: undefined, data: '[DONE]' },
      ]);
    }
  });

  it('accepts CRLF and CR line ends, including a CRLF split across chunks', () => {
    const parser = new SseParser();
    const events = [...parser.push('data: a\r'), ...parser.push('\n\r\ndata: b\r\r'), ...parser.end()];
    expect(events.map((e) => e.data)).toEqual(['a', 'b']);
  });

  it('decodes multi-byte UTF-8 split across chunks', () => {
    const bytes = new TextEncoder().encode('data: héllo 🌍\n\n');
    const parser = new SseParser();
    const events = [...parser.push(bytes.slice(0, 9)), ...parser.push(bytes.slice(9, 15)), ...parser.push(bytes.slice(15))];
    expect(events[0]?.data).toBe('héllo 🌍');
  });

  it('dispatches a final event without a trailing blank line at end()', () => {
    const parser = new SseParser();
    expect(parser.push('data: tail')).toEqual([]);
    expect(parser.end()).toEqual([{ event: undefined, data: 'tail' }]);
  });
});
