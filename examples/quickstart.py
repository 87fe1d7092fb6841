"""Fit a diffusion model on the bundled credit table, sample, condition, evaluate.

    python examples/quickstart.py
"""

from sklearn.model_selection import train_test_split

from synthaug import DiffusionSampler, evaluate
from synthaug.datasets import load_credit

data = load_credit()
train, holdout = train_test_split(data, test_size=0.3, stratify=data["Status"], random_state=0)

model = DiffusionSampler(random_state=0).fit(train)
synth = model.sample(len(train))
print(synth.head())

# Every row satisfies every condition; the other columns follow the model.
owners = model.sample(500, conditions={"Home": ["owner", "parents"], "Age": (30, 40), "Records": "no"})
print(owners[["Home", "Age", "Records", "Income"]].describe(include="all"))

report = evaluate(train, synth, holdout=holdout, target="Status")
print(report.to_frame()[["metric", "value"]].to_string(index=False))
report.to_html("quickstart_report.html")
