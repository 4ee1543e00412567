/** One turn's live frames of a topic set, joined once and handed to every connection of the set (see TopicSet). */
export interface LiveBatch {
  /** The frames joined (the frame itself when there is one): what every connection of the set writes. */
  readonly buffer: Uint8Array;
  readonly frames: readonly Uint8Array[];
  /** The message of each frame, for a connection that must skip some (see ResumedAhead). */
  readonly messages: readonly { readonly topic: string; readonly position: string }[];
}

/** The live side of a broadcast stream: the topic set whose frames it shares. */
export interface LiveSet {
  /** Hands the frames the set gathered in this turn to its connections now. Returns the bytes written at once. */
  flush(): number;
  /** The cursor over the set's topics at the live position: what an id-only frame names. */
  cursor(): string;
}
