/** Small inline SVG icons: no icon font, no emoji font needed (headless and minimal systems lack one). */
const PATHS = {
  paperclip: "M10.5 3.5 4.8 9.2a2 2 0 0 0 2.8 2.8l6-6a3.5 3.5 0 0 0-5-5l-6.3 6.3a5 5 0 0 0 7.1 7.1L14 9.8",
  gear: "M8 5.5a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5ZM6.9 1h2.2l.4 1.8 1.2.7 1.8-.6 1.1 1.9-1.4 1.3v1.4l1.4 1.3-1.1 1.9-1.8-.6-1.2.7L9.1 15H6.9l-.4-1.8-1.2-.7-1.8.6-1.1-1.9 1.4-1.3V8.5L2.4 7.2l1.1-1.9 1.8.6 1.2-.7Z",
  sun: "M8 4.5a3.5 3.5 0 1 0 0 7 3.5 3.5 0 0 0 0-7ZM8 1v1.5M8 13.5V15M1 8h1.5M13.5 8H15M3 3l1 1M12 12l1 1M3 13l1-1M12 4l1-1",
  moon: "M13.5 10.5A6 6 0 0 1 5.5 2.5a6 6 0 1 0 8 8Z",
  back: "M10 3 5 8l5 5",
  file: "M4 1.5h5l3.5 3.5v9.5H4ZM9 1.5V5h3.5",
  dots: "M3 8h.01M8 8h.01M13 8h.01",
  clock: "M8 2a6 6 0 1 0 0 12A6 6 0 0 0 8 2Zm0 3v3l2 1.5",
  person: "M8 8a3 3 0 1 0 0-6 3 3 0 0 0 0 6ZM2.5 14.5c.6-2.9 2.8-4.5 5.5-4.5s4.9 1.6 5.5 4.5",
  check: "M3 8.5 6.5 12 13 4.5",
  checks: "M1 8.5 4.5 12 11 4.5M7.5 11.2 8.3 12 14.8 4.5",
  chat: "M2 3.5h12v8H6l-3 2.5v-2.5H2Z",
  retry: "M13 8a5 5 0 1 1-1.5-3.6M13 2.5v2.5h-2.5",
  down: "M8 2.5v11M3.5 9 8 13.5 12.5 9",
  bellOff: "M6.5 13.5a1.5 1.5 0 0 0 3 0M4 6.5a4 4 0 0 1 6.9-2.8M12 7v2.5l1.5 2H3.5L4 10.8M2 2l12 12",
  bell: "M6.5 13.5a1.5 1.5 0 0 0 3 0M4 6.5a4 4 0 0 1 8 0v3l1.5 2h-11L4 9.5Z",
  search: "M7 2a5 5 0 1 0 0 10A5 5 0 0 0 7 2Zm3.6 8.6L14 14",
  smile:
    "M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13ZM5.5 6.5h.01M10.5 6.5h.01M5 9.5c.7 1.2 1.8 1.8 3 1.8s2.3-.6 3-1.8",
  pin: "M6 1.5h4M7 1.5v4L4.5 8.5h7L9 5.5v-4M8 8.5v6",
  phone:
    "M5.5 2 3.5 2.2C2.7 2.3 2.2 3 2.3 3.8 2.9 9 7 13.1 12.2 13.7c.8.1 1.5-.4 1.6-1.2l.2-2-2.8-1.2-1.3 1.3A8 8 0 0 1 5.4 6.1l1.3-1.3Z",
  hangup:
    "M1.6 9.8 1.2 8.4C1 7.6 1.4 6.8 2.2 6.5c3.7-1.4 7.9-1.4 11.6 0 .8.3 1.2 1.1 1 1.9l-.4 1.4-2.9-.4-.4-1.8a8 8 0 0 0-6.2 0l-.4 1.8Z",
  video: "M1.5 4.5h9v7h-9ZM10.5 7l4-2.5v7l-4-2.5",
  videoOff: "M1.5 4.5h9v7h-9ZM10.5 7l4-2.5v7l-4-2.5M1 1.5l14 13",
  mic: "M8 1.5a2 2 0 0 0-2 2V8a2 2 0 0 0 4 0V3.5a2 2 0 0 0-2-2ZM4 7.5a4 4 0 0 0 8 0M8 11.5v3",
  micOff: "M8 1.5a2 2 0 0 0-2 2V8a2 2 0 0 0 4 0V3.5a2 2 0 0 0-2-2ZM4 7.5a4 4 0 0 0 8 0M8 11.5v3M2 2l12 12",
  screen: "M1.5 2.5h13v9h-13ZM5.5 14.5h5M8 11.5v3M8 9V5M6 7l2-2 2 2",
} as const;

export type IconName = keyof typeof PATHS;

export function Icon({ name, size = 16 }: { name: IconName; size?: number }) {
  return (
    <svg
      width={size}
      height={size}
      viewBox="0 0 16 16"
      fill="none"
      stroke="currentColor"
      strokeWidth={name === "dots" ? 2.6 : 1.5}
      strokeLinecap="round"
      strokeLinejoin="round"
      aria-hidden="true"
      focusable="false"
      style={{ verticalAlign: "-0.125em" }}
    >
      <path d={PATHS[name]} />
    </svg>
  );
}
