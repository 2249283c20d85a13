# Promela models checked with spin (scripts/check-models.sh, `make models`).
# A *_mutant*.pml passes only when spin finds the error it was built to show.
MODELS += tests/model/park_wake.pml tests/model/park_wake_fenced.pml
MODELS += tests/model/park_wake_mutant_norecheck.pml
MODELS += tests/model/park_wake_mutant_nobarrier.pml
MODELS += tests/model/park_wake_mutant_bellonly.pml
MODELS += tests/model/park_wake_mutant_noprodfence.pml
MODELS += tests/model/park_wake_mutant_loadstore.pml
MODELS += tests/model/ring.pml tests/model/ring_mutant_fullcheck.pml
MODELS += tests/model/budget.pml tests/model/budget_mutant_signal.pml
MODELS += tests/model/budget_mutant_nolockcheck.pml
MODELS += tests/model/budget_mutant_latewaiters.pml
