#pragma once
// One question to the user before a tool runs: the tool, its MCP server and the arguments, and
// the three answers. Made by ToolTurn on the UI thread; the chat's approval dialog (QML) shows
// the controller's current one and calls an answer; the tool turn's worker waits for it without
// blocking the UI thread.
#include <QObject>
#include <QString>

namespace ld::chat {

class ToolApproval final : public QObject {
    Q_OBJECT
    Q_PROPERTY(QString tool READ tool CONSTANT)
    Q_PROPERTY(QString server READ server CONSTANT)
    // The arguments as indented JSON (as the model wrote them when they are not JSON).
    Q_PROPERTY(QString arguments READ arguments CONSTANT)
public:
    enum class Answer { AllowOnce, AlwaysAllow, Deny };
    Q_ENUM(Answer)

    ToolApproval(QString tool, QString server, QString arguments, QObject* parent = nullptr);

    QString tool() const { return tool_; }
    QString server() const { return server_; }
    QString arguments() const { return arguments_; }

    Q_INVOKABLE void allowOnce() { answer(Answer::AllowOnce); }
    Q_INVOKABLE void alwaysAllow() { answer(Answer::AlwaysAllow); }
    Q_INVOKABLE void deny() { answer(Answer::Deny); }

signals:
    // Once: later answers are ignored.
    void answered(ld::chat::ToolApproval::Answer answer);

private:
    void answer(Answer a);

    QString tool_;
    QString server_;
    QString arguments_;
    bool answered_ = false;
};

// Indented JSON for display; the text itself when it is not a JSON object.
QString prettyArguments(const QString& json);

}  // namespace ld::chat
