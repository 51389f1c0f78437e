"""The recording service edge: blueButler iDR (seed 000) and Jusan Recall (seed 003)."""
