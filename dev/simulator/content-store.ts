// Published content blobs, as /subscriptions/content lists them and the contentUri serves them. Blobs stay
// retrievable for 7 days after contentCreated (reference §2.6).
import type { PagePosition } from './page-token.js';
import type { ContentType, PublishedContent } from './request-shapes.js';
import { inWindow, type TimeWindow } from './time-window.js';

export const contentLifetimeMs = 7 * 24 * 3_600_000;

export interface StoredContent extends PagePosition {
  tenantId: string;
  contentType: ContentType;
  contentId: string;
  contentUri: string;
  expiration: Date;
  /** The exact JSON text the contentUri answers with. */
  body: string;
}

/** An item put on a listing as is (any JSON text: null, a number, a foreign contentUri...), for odd-item tests. */
export interface InjectedItem extends PagePosition {
  tenantId: string;
  contentType: ContentType;
  jsonText: string;
}

/** One entry of a content listing page, in listing order, as the JSON text the page carries. */
export interface ListingEntry extends PagePosition {
  jsonText: string;
}

export function publishedView(c: StoredContent): PublishedContent {
  return {
    contentType: c.contentType,
    contentId: c.contentId,
    contentUri: c.contentUri,
    contentCreated: c.created.toISOString(),
    contentExpiration: c.expiration.toISOString(),
  };
}

export class ContentStore {
  private readonly blobs = new Map<string, StoredContent>();
  private readonly injected: InjectedItem[] = [];
  private sequence = 0;

  nextSequence(): number {
    return ++this.sequence;
  }

  add(content: Omit<StoredContent, 'expiration'>): StoredContent {
    const key = `${content.tenantId}\n${content.contentId}`;
    if (this.blobs.has(key)) throw new Error(`content ${content.contentId} was already published for tenant ${content.tenantId}`);
    const stored = { ...content, expiration: new Date(content.created.getTime() + contentLifetimeMs) };
    this.blobs.set(key, stored);
    return stored;
  }

  get(tenantId: string, contentId: string): StoredContent | undefined {
    return this.blobs.get(`${tenantId}\n${contentId}`);
  }

  inject(item: InjectedItem): void {
    this.injected.push(item);
  }

  /** What /subscriptions/content lists: the blobs and the injected items inside the window, in listing order. */
  listing(tenantId: string, contentType: ContentType, window: TimeWindow): ListingEntry[] {
    const blobs = this.list(tenantId, contentType, window).map((c): ListingEntry => ({ created: c.created, sequence: c.sequence, jsonText: JSON.stringify(publishedView(c)) }));
    const injected = this.injected
      .filter((i) => i.tenantId === tenantId && i.contentType === contentType && inWindow(window, i.created))
      .map((i): ListingEntry => ({ created: i.created, sequence: i.sequence, jsonText: i.jsonText }));
    return [...blobs, ...injected].sort((a, b) => a.created.getTime() - b.created.getTime() || a.sequence - b.sequence);
  }

  /** Blobs of one tenant and type inside the window, in order of availability. */
  list(tenantId: string, contentType: ContentType, window: TimeWindow): StoredContent[] {
    return [...this.blobs.values()]
      .filter((c) => c.tenantId === tenantId && c.contentType === contentType && inWindow(window, c.created))
      .sort((a, b) => a.created.getTime() - b.created.getTime() || a.sequence - b.sequence);
  }
}
