"""The offline teacher: DistilBERT architecture carrying all-MiniLM-L6-v2's encoder exactly."""
import numpy as np

from toolchain import data, teacher


def test_mapped_distilbert_reproduces_minilm_hidden_states(vader_archive):
    import torch
    from transformers import AutoModel

    sentences = [text for text, _ in data.read_vader_corpus("rotten-tomatoes", vader_archive)[:24]]
    sentences += ["", "A naïve, déjà-vu plot… 🙂", "x" * 300]
    bert = AutoModel.from_pretrained(str(teacher.minilm_path())).eval()
    distilbert, tokenizer = teacher.distilbert_from_minilm(num_labels=2, seed=0)
    distilbert.eval()
    batch = tokenizer(sentences, padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.no_grad():
        reference = bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                         token_type_ids=torch.zeros_like(batch["input_ids"])).last_hidden_state
        mapped = distilbert.distilbert(input_ids=batch["input_ids"],
                                       attention_mask=batch["attention_mask"]).last_hidden_state
    valid = batch["attention_mask"].bool().numpy()
    difference = np.abs(reference.numpy() - mapped.numpy())[valid]
    assert difference.max() < 1e-4, difference.max()
    assert distilbert.config.model_type == "distilbert"
    assert (distilbert.config.n_layers, distilbert.config.dim, distilbert.config.n_heads,
            distilbert.config.hidden_dim, distilbert.config.vocab_size) == (6, 384, 12, 1536, 30522)


def test_tiny_teacher_fine_tunes_and_predicts(tiny_teacher):
    from toolchain.config import TeacherConfig

    model, tokenizer, order = teacher.load_teacher(str(tiny_teacher), ["negative", "positive"], seed=0)
    assert order is None  # generic LABEL_k heads are fine-tuned, not used as is
    teacher.check_wordpiece(tokenizer, str(tiny_teacher))
    texts = ["a great film", "a terrible film", "wonderful", "awful"] * 8
    labels = [1, 0, 1, 0] * 8
    before = teacher.predict_logits(model, tokenizer, texts, 16, "before")
    summary = teacher.fine_tune(model, tokenizer, texts, labels,
                                TeacherConfig(epochs=15, batch_size=8, learning_rate=1e-3), seed=0)
    after = teacher.predict_logits(model, tokenizer, texts, 16, "after")
    assert summary["steps"] == 60
    assert before.shape == after.shape == (32, 2)
    assert (after.argmax(1) == np.array(labels)).mean() == 1.0


def test_fine_tuned_teacher_is_used_as_is_with_label_order(tmp_path, tiny_teacher_labelled):
    _model, _, order = teacher.load_teacher(str(tiny_teacher_labelled), ["good", "bad"], seed=0)
    assert order == [1, 0]  # task label k -> checkpoint output order[k]
