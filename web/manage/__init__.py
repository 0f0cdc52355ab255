"""What the management pages share: reading posted fields, rendering a form again."""
