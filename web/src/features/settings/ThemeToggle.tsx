import { Button } from "react-bootstrap";
import { Icon } from "../../components/Icon";
import { useTheme } from "../../lib/theme";

export function ThemeToggle() {
  const { theme, toggle } = useTheme();
  const dark = theme === "dark";
  return (
    <Button
      variant="outline-secondary"
      className="text-body border"
      size="sm"
      onClick={toggle}
      aria-pressed={dark}
      aria-label={dark ? "Switch to light mode" : "Switch to dark mode"}
      title={dark ? "Switch to light mode" : "Switch to dark mode"}
      data-testid="theme-toggle"
    >
      <Icon name={dark ? "sun" : "moon"} />
    </Button>
  );
}
