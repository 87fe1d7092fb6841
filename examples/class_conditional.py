"""Class-conditional sampling: fit(X, y) then sample(n, y=...).

    python examples/class_conditional.py
"""

from synthaug import DiffusionSampler
from synthaug.datasets import load_credit

X, y = load_credit(return_X_y=True)
model = DiffusionSampler(random_state=0).fit(X, y)

X_new, y_new = model.sample(1000)                    # labels with the training frequencies
print(y_new.value_counts(normalize=True).round(3))

X_bad, y_bad = model.sample(300, y="bad")            # all of one class
print(X_bad.describe().T[["mean", "50%"]])
print("real 'bad' rows:\n", X[y == "bad"].describe().T[["mean", "50%"]])
