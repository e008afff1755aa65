# Convenience aliases; the README's commands are the scripts themselves (no make needed).
.PHONY: setup sim test bench-sim
setup:
	bash scripts/setup.sh
sim:
	bash scripts/sim.sh
test:
	bash scripts/test.sh
bench-sim: setup
	cargo run --release -- bench sim
