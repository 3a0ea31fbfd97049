import { useState } from "react";
import { colourIndex } from "../lib/colours";
import { initials } from "../lib/format";
import { usePresenceKnown } from "../realtime/context";
import { Icon } from "./Icon";

/**
 * A round avatar: the picture when there is one (and it loads), else initials on a
 * colour stable for the seed (white on each passes WCAG AA), else a person icon. The
 * online dot shows only while presence is known (the socket is connected).
 */
export function Avatar({
  name,
  seed,
  online,
  small,
  large,
  imageUrl,
}: {
  name: string;
  seed: string;
  online?: boolean | undefined;
  small?: boolean;
  /** the profile dialog's size */
  large?: boolean;
  /** a profile picture, when the person has one */
  imageUrl?: string | null | undefined;
}) {
  const presenceKnown = usePresenceKnown();
  const [broken, setBroken] = useState<string | null>(null);
  const letters = initials(name);
  const picture = imageUrl && broken !== imageUrl ? imageUrl : null;
  return (
    <span
      className={`avatar avatar-c${colourIndex(seed)}${small ? " avatar-sm" : ""}${large ? " avatar-lg" : ""}`}
      aria-hidden="true"
      data-testid="avatar"
    >
      {picture ? (
        <img src={picture} alt="" className="avatar-img" onError={() => setBroken(picture)} />
      ) : letters ? (
        letters
      ) : (
        <Icon name="person" size={small ? 14 : large ? 40 : 18} />
      )}
      {online && presenceKnown ? <span className="online-dot" data-testid="online-dot" /> : null}
    </span>
  );
}
