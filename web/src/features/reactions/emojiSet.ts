/**
 * The emoji the picker offers: a fixed, common set with names (for screen readers and the
 * filter). The server accepts any single Unicode emoji; this set is what one click away.
 */
export interface PickerEmoji {
  emoji: string;
  name: string;
}

/** The quick row under a message: one click to react. */
export const QUICK_REACTIONS = ["👍", "❤️", "😂", "🎉"] as const;

export const PICKER_EMOJI: readonly PickerEmoji[] = [
  { emoji: "👍", name: "thumbs up" },
  { emoji: "👎", name: "thumbs down" },
  { emoji: "❤️", name: "red heart" },
  { emoji: "😂", name: "face with tears of joy" },
  { emoji: "😀", name: "grinning face" },
  { emoji: "😊", name: "smiling face with smiling eyes" },
  { emoji: "😍", name: "smiling face with heart-eyes" },
  { emoji: "🤔", name: "thinking face" },
  { emoji: "😮", name: "face with open mouth" },
  { emoji: "😢", name: "crying face" },
  { emoji: "😡", name: "enraged face" },
  { emoji: "🙏", name: "folded hands" },
  { emoji: "👏", name: "clapping hands" },
  { emoji: "🙌", name: "raising hands" },
  { emoji: "👀", name: "eyes" },
  { emoji: "🔥", name: "fire" },
  { emoji: "🎉", name: "party popper" },
  { emoji: "✅", name: "check mark button" },
  { emoji: "❌", name: "cross mark" },
  { emoji: "💯", name: "hundred points" },
  { emoji: "🚀", name: "rocket" },
  { emoji: "⭐", name: "star" },
  { emoji: "☕", name: "hot beverage" },
  { emoji: "🍕", name: "pizza" },
];
