"""Privacy-preserving release: a differentially private fit, what it spent, and the checks.

    python examples/private_release.py
"""

from sklearn.model_selection import train_test_split

from synthaug import DiffusionSampler, evaluate
from synthaug.datasets import load_credit

df = load_credit()
train, holdout = train_test_split(df, test_size=0.3, random_state=0, stratify=df["Status"])

# What is public knowledge (a data dictionary), declared so that no budget is spent on it.
bounds = {"Age": (18, 100), "Seniority": (0, 60), "Time": (0, 100), "Expenses": (0, 200),
          "Income": (0, 1000), "Assets": (0, 500_000), "Debt": (0, 50_000), "Amount": (0, 5000),
          "Price": (0, 20_000)}
categories = {"Status": ["bad", "good"], "Records": ["no", "yes"],
              "Home": ["ignore", "other", "owner", "parents", "priv", "rent"],
              "Marital": ["divorced", "married", "separated", "single", "widow"],
              "Job": ["fixed", "freelance", "others", "partime"]}

model = DiffusionSampler(epsilon=3.0, bounds=bounds, categories=categories, random_state=0).fit(train)
p = model.privacy_
print(f"({p['epsilon']:.3f}, {p['delta']:.2e})-DP: encoder ε {p['encoder_epsilon']:.2f}, "
      f"DP-SGD ε {p['training_epsilon']:.2f}, noise multiplier {p['noise_multiplier']:.1f}, {p['steps']} steps")

release = model.sample(len(train))
report = evaluate(train, release, holdout, target="Status", sensitive_columns=["Income"])
for name in ("quality", "detection_auc", "ml_efficacy_synthetic", "membership_inference_auc", "exact_copy_share"):
    print(f"{name:28s} {report.scores.get(name, float('nan')):.3f}")
report.to_html("private_release_report.html")
